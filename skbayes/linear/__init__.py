"""Linear models with exact or Laplace-approximate posteriors (numpy/scipy only)."""
