"""``python -m imagetags_df`` runs the ``imagetags`` command."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="imagetags")
