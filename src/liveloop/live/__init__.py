"""The live domain."""
