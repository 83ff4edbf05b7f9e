"""The build wing: doit task creators and the offline artifacts they make (RIE, images, runtimes)."""
