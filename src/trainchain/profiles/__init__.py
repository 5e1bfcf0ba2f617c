"""Environment profiles (repo2docker-style buildpacks) and their package table."""
