"""scikit-learn's HistGradientBoostingClassifier alone on the rows segflow's ensemble trains on
(a task file of bench/ensemble-alone.ts), with the same trees, depth, learning rate, minimum leaf
and early stopping as bench/peer.py. Prints {"seconds", "trees"}: the fit alone, after loading."""

import json
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

HEADER_BYTES = 4096


def main(path):
    data = open(path, "rb").read()
    header = json.loads(data[:HEADER_BYTES].decode().strip())
    rows, features, train_rows, options = header["rows"], header["features"], header["trainRows"], header["options"]
    at = HEADER_BYTES
    x = np.frombuffer(data, dtype="<f8", count=rows * features, offset=at).reshape(features, rows).T
    at += rows * features * 8
    y = np.frombuffer(data, dtype=np.uint8, count=rows, offset=at)
    at += rows
    train = np.frombuffer(data, dtype="<u4", count=train_rows, offset=at)
    x_train, y_train = np.ascontiguousarray(x[train]), y[train]
    categorical = options.get("categorical") or [False] * features
    started = time.perf_counter()
    model = HistGradientBoostingClassifier(max_iter=options["trees"], max_depth=options["maxDepth"],
                                           learning_rate=options["learningRate"], max_leaf_nodes=None,
                                           min_samples_leaf=options["minLeafSize"], early_stopping=True,
                                           validation_fraction=0.15, n_iter_no_change=10,
                                           categorical_features=categorical if any(categorical) else None,
                                           random_state=options["seed"]).fit(x_train, y_train)
    print(json.dumps({"seconds": time.perf_counter() - started, "trees": int(model.n_iter_)}))


if __name__ == "__main__":
    main(sys.argv[1])
