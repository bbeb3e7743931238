"""What a model learned and where it is wrong: filters, feature maps, Grad-CAM, rankings, and one
model's predictions for a whole workspace."""
