"""Building models: the kit's environment (`setup_env`), the bundled offline models (`bundled`), the GGUF / HF
converter (`convert`, driving `_convert_worker.py` in its own environment from `converter-requirements.txt`) and
bring-your-own-model (`byom`). Only setup, `python -m helpers build|byom` and notebook 06 use it.

Standard library only at import time: `python -m helpers setup` imports this package with the bare system Python.
"""
