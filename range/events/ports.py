"""What Zeek's default scripts know about ports and protocols, as data.

- :data:`LIKELY_SERVER_PORTS`: the ports Zeek's base scripts register for their analyzers (and so
  add to ``likely_server_ports``): a new connection whose first packet goes *from* such a port to
  one that is not is turned round (UDP always, TCP unless the packet is a SYN).
- :data:`ICMP_PAIRS`, :data:`ICMP6_PAIRS`: the request/reply types Zeek joins in one connection;
  every other type is one-way and its connection's ``id.resp_p`` is the code.
- :data:`TUNNELS`: the UDP tunnels whose outer flow Zeek logs with the tunnel's name as service.
- :data:`SERVICES`: tshark's dissector names (``frame.protocols``) for the application protocols
  Zeek logs in ``service``, with how each is confirmed (see :mod:`range.events.apps`).

Sources: Zeek's ``scripts/base/protocols/*/main.zeek``, ``scripts/base/packet-protocols``,
``src/packet_analysis/protocol/icmp/ICMP.cc`` (see docs/design.md, "Events as Zeek writes them").
"""
from __future__ import annotations

LIKELY_SERVER_PORTS = frozenset({
    ("tcp", 135), ("udp", 67), ("udp", 4011), ("tcp", 20000), ("udp", 20000),
    ("udp", 53), ("tcp", 53), ("udp", 137), ("udp", 5353), ("udp", 5355), ("tcp", 79), ("tcp", 21), ("tcp", 2811),
    ("tcp", 80), ("tcp", 81), ("tcp", 631), ("tcp", 1080), ("tcp", 3128), ("tcp", 8000), ("tcp", 8080),
    ("tcp", 8888), ("tcp", 143), ("tcp", 6666), ("tcp", 6667), ("tcp", 6668), ("tcp", 6669), ("tcp", 88),
    ("udp", 88), ("tcp", 389), ("tcp", 3268), ("udp", 389), ("tcp", 502), ("tcp", 1883), ("tcp", 1434),
    ("tcp", 3306), ("udp", 123), ("udp", 443), ("udp", 1812), ("tcp", 3389), ("udp", 3389), ("udp", 5060),
    ("udp", 161), ("udp", 162), ("tcp", 139), ("tcp", 445), ("tcp", 25), ("tcp", 587), ("tcp", 22),
    ("tcp", 443), ("tcp", 465), ("tcp", 563), ("tcp", 585), ("tcp", 614), ("tcp", 636), ("tcp", 989),
    ("tcp", 990), ("tcp", 992), ("tcp", 993), ("tcp", 995), ("tcp", 5223), ("udp", 514), ("tcp", 514),
    ("tcp", 5222), ("tcp", 5269), ("udp", 5072), ("udp", 3544), ("udp", 2152), ("udp", 2123), ("udp", 4789),
    ("udp", 6081),
})

# request <-> reply types joined in one connection (both directions of the pair)
ICMP_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140,
               140: 139, 144: 145, 145: 144}

# tshark dissector -> Zeek's name of the UDP tunnel (the outer flow's service), and the responder
# ports Zeek hands to it (empty: found on any port by Zeek's protocol detection)
TUNNELS = {"vxlan": "vxlan", "geneve": "geneve", "teredo": "teredo", "ayiya": "ayiya", "gtp": "gtpv1"}
TUNNEL_PORTS = {"vxlan": frozenset({4789}), "geneve": frozenset({6081}), "gtpv1": frozenset({2152, 2123}),
                "teredo": frozenset(), "ayiya": frozenset()}
# dissectors of IP tunnels Zeek decapsulates without a connection of their own
IP_TUNNELS = frozenset({"gre", "erspan", "ppp", "pptp"})

# tshark dissector (alone, or with the transport) -> the services Zeek confirms for it. DNS, HTTP,
# SSH, FTP, telnet and syslog are not here: their analyzers (range.events.apps) read the payload.
SERVICES = {
    "tls": "ssl", "dtls": "dtls", "ftp-data": "ftp-data", "smtp": "smtp", "pop": "pop3", "imap": "imap",
    "irc": "irc", "xmpp": "xmpp", "sip": "sip", "snmp": "snmp", "radius": "radius", "dcerpc": "dce_rpc",
    "mysql": "mysql", "pgsql": "postgresql", "rdp": "rdp", "rdpudp": "rdpeudp", "quic": "quic", "dhcp": "dhcp",
    "ntp": "ntp", "websocket": "websocket", "mbtcp": "modbus", "mqtt": "mqtt", "finger": "finger",
    "spnego": "gssapi", "spnego-krb5": ("gssapi", "krb"),
    ("smb", "tcp"): "smb", ("smb2", "tcp"): "smb", ("ldap", "tcp"): "ldap_tcp", ("ldap", "udp"): "ldap_udp",
    ("kerberos", "tcp"): "krb_tcp", ("kerberos", "udp"): "krb", ("dnp3", "tcp"): "dnp3_tcp",
}
# when the dissector's word is not enough: Zeek confirms RDPEUDP at the responder's SYN-ACK, SSL at a
# ClientHello; TLS inside RDPEUDP is RDPEUDP's, not a service of its own (QUIC's is: quic,ssl)
FROM_RESPONDER = frozenset({"rdpudp"})
CLIENT_HELLO = frozenset({"tls"})
INSIDE = {"tls": frozenset({"rdpudp"})}


def likely_server(proto: str, port: int | None) -> bool:
    return (proto, port) in LIKELY_SERVER_PORTS
