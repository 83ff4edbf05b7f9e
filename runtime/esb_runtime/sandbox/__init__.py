"""Code that runs inside every sandbox, around awslambdaric."""
