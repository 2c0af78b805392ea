"""Kafka I/O: the message contract, the consumer loop, the dead-letter producer, the embedded
broker launcher and ``produce``. Takes plain settings objects and a store interface; never
imports the daemon or the CLI."""
