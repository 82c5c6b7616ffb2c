"""Scenarios: the attack story played against an environment (``kind: scenario``), validated
strictly, and the catalog that finds environments and scenarios by name."""
from range.scenario.catalog import (
                                  Catalog,
                                  catalog,
                                  load_scenario,
                                  parse_scenario_file,
                                  validate_file,
)
from range.scenario.model import (
                                  DEFAULT_START,
                                  MAX_BENIGN_EVENTS,
                                  MAX_DURATION,
                                  MAX_STEPS,
                                  Scenario,
                                  ScenarioSpec,
                                  Step,
                                  StepSpec,
                                  parse_scenario,
)

__all__ = ["Catalog", "catalog", "load_scenario", "parse_scenario_file", "validate_file", "DEFAULT_START",
           "MAX_BENIGN_EVENTS", "MAX_DURATION", "MAX_STEPS", "Scenario", "ScenarioSpec", "Step", "StepSpec",
           "parse_scenario"]
