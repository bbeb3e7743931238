"""Developer tools that the product does not ship: screenshots (`python -m tools.screenshots`) and the
demo-model builder (`python -m tools.build_demo_model`)."""
