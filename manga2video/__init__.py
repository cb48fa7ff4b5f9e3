"""manga2video: the domain logic of the manga-to-video pipeline, shared by Lambdas and workers."""
