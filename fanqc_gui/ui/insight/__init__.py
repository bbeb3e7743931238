"""The Insight page: filters, feature maps, per-image predictions, Grad-CAM, confusion matrix, ROC
and threshold, fixing labels."""
