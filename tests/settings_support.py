"""What the tests' settings share."""

# The tests' token key, and argon2id at its cheapest (one pass over 1 MiB: under 1 ms a hash where
# the defaults take ~40 ms; a registered and logged-in player costs two).
# tests/functions/api/test_api_auth.py checks that production keeps the defaults.
TEST_AUTH = {
    "jwt_secret": "test-only-signing-key-0123456789abcdef",
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
}
