"""Run a workshop notebook the way papermill does: a cell setting parameters right after the `parameters` cell."""
from __future__ import annotations

import copy
from typing import Any


def with_parameters(notebook: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the notebook (nbformat dict) with a cell setting `values` inserted after its `parameters` cell."""
    notebook = copy.deepcopy(notebook)
    index = next(i for i, cell in enumerate(notebook["cells"]) if "parameters" in cell.get("metadata", {}).get("tags", []))
    lines = [f"{name} = {value!r}\n" for name, value in values.items()]
    notebook["cells"].insert(index + 1, {"cell_type": "code", "execution_count": None, "id": "injected-parameters",
                                         "metadata": {"tags": ["injected-parameters"]}, "outputs": [], "source": "".join(lines)})
    return notebook
