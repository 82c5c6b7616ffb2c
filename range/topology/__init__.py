"""Target networks: environment files (``kind: environment``), the service catalogue, and each
team's layout of addresses inside them."""
from range.topology.environment import (
           Environment,
           EnvironmentSpec,
           NetworkSpec,
           NodeSpec,
           load_environment,
           parse_environment,
)
from range.topology.layout import Host, Layout, layout, mac_address
from range.topology.services import SERVICES, Service, service

__all__ = ["Environment", "EnvironmentSpec", "NetworkSpec", "NodeSpec", "load_environment", "parse_environment",
           "Host", "Layout", "layout", "mac_address", "SERVICES", "Service", "service"]
