"""Running the real state machine on one machine: moto's ASL interpreter, in-process Lambdas."""
