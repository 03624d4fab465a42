"""A local stand-in for the NOWPayments API (see `tools.gateway_sim.app`)."""
