"""The attack library: one module per technique, each registered by name.

Every module's docstring says which real attack it imitates, its MITRE ATT&CK id and the traffic
it produces. Modules starting with ``_`` hold shared protocol helpers; ``benign/`` holds the
benign traffic kinds that surround the attacks.
"""
