"""Spectral functions rho(omega) from Euclidean correlators: NN, NN-P2P, MEM, Tikhonov."""
