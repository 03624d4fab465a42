from tests.payments_support import payments, sim

__all__ = ["payments", "sim"]
