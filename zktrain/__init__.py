"""zktrain: verifiable training of PyTorch models."""
