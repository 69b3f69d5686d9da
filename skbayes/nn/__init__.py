"""Neural-network estimators; the only part of skbayes that imports torch."""
