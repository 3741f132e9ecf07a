"""What every notebook does first: quiet set-up, seeds, the book's figure and table style.

Figures are published with ``report.plots.publish_figure``, verdicts filed with
``experiments.comparison.record``."""

from __future__ import annotations

import os
import random

from sp_prm_lib.config.profile import Profile, load_profile
from sp_prm_lib.report.style import use_book_style

_QUIET_ENV = {
    "TQDM_DISABLE": "1",  # progress bars become widgets in executed notebooks
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
}


def quiet() -> None:
    """Turn off progress bars and info logging of the HF libraries."""
    os.environ.update(_QUIET_ENV)
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def start(profile_name: str) -> Profile:
    """Load the profile, silence progress output, seed every generator, and set the book's figure
    style and table precision."""
    quiet()
    profile = load_profile(profile_name)
    import numpy as np
    import pandas as pd
    import torch

    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.precision", 3)  # tables for people: no six-decimal noise
    use_book_style()

    random.seed(profile.seed)
    np.random.seed(profile.seed)
    torch.manual_seed(profile.seed)
    return profile
