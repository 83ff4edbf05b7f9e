"""Helpers shared by the docker tests."""

from __future__ import annotations


def remove_project_images(project: str) -> None:
    """Function images of one test project (`esb/<project>/...`): `esb down` keeps images, tests must not."""
    import docker as docker_sdk

    client = docker_sdk.from_env()
    try:
        for image in client.images.list():
            if any(tag.startswith(f"esb/{project}/") for tag in image.tags):
                client.images.remove(image.id, force=True)
    finally:
        client.close()
