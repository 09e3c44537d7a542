import numpy as np
import pytest
from sklearn.decomposition import PCA

from training.algorithms.pca import Pca
from training.models.iris_pca import IrisMeasurements, IrisPca, IrisPcaTrainConfig
from training.run import TrainingRun


@pytest.fixture(scope="module")
def trained() -> tuple[IrisPca, Pca, np.ndarray]:
    spec, config = IrisPca(), IrisPcaTrainConfig()
    data = spec.load_data(config, TrainingRun())
    return spec, spec.fit(config, data, TrainingRun()), data.X_train


def test_predict_reads_the_measurements_in_dataset_column_order(
    trained: tuple[IrisPca, Pca, np.ndarray],
) -> None:
    spec, artifact, X_train = trained
    flower = IrisMeasurements(
        sepal_length_cm=6.3, sepal_width_cm=2.9, petal_length_cm=5.6, petal_width_cm=1.8
    )
    [projection] = spec.predict(artifact, [flower])
    reference = PCA(n_components=2).fit(X_train)  # Iris columns: sepal, sepal, petal, petal
    expected = reference.transform([[6.3, 2.9, 5.6, 1.8]])[0]
    assert np.allclose(np.abs(projection.components), np.abs(expected), atol=1e-9)


def test_config_keeps_a_thirty_percent_held_out_share() -> None:
    assert IrisPcaTrainConfig().test_size == 0.3
    data = IrisPca().load_data(IrisPcaTrainConfig(), TrainingRun())
    assert (len(data.y_train), len(data.y_test)) == (105, 45)
    assert np.bincount(data.y_test).tolist() == [15, 15, 15]  # stratified by species
