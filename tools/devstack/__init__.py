"""The local developer stack: private PostgreSQL, Redis and moto servers, and `./dev`."""
