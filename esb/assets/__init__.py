"""Files the installed toolchain reads at run time: Jinja templates and the bundled sample app.

In a source checkout `templates` and `sample` are symlinks to the repository's top-level `templates/` and
`fixtures/sample/`; a built wheel carries real copies (package data), so both installs read the same paths.
"""
