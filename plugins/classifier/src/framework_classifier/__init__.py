"""framework-classifier: Image classification: frozen-backbone head training, calibration logits, threshold sweep."""
