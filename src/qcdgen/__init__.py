"""qcdgen: generative models for QCD-matter physics, judged by physics.

Layers (imports point downward only)::

    cli/ report/                 commands, reports
    lattice/ hic/ inverse/       physics domains
    diffusion/ flows/ mcmc/ nn/  engines that know nothing about physics domains
    stats/ io/                   statistics and files
"""

__version__ = "0.1.0"
