from tests.payments_support import payments, sim, sim_server

__all__ = ["payments", "sim", "sim_server"]
