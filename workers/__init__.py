"""The Spot workers (baked into the AMI): renderer and uploader, and their task-token callback."""
