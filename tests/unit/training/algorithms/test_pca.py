import numpy as np
import pytest
from sklearn.decomposition import PCA

from training.algorithms.pca import fit_pca


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_pca_matches_scikit_learn_up_to_sign(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    ours = fit_pca(X, 3)
    reference = PCA(n_components=3).fit(X)
    signs = np.sign((reference.components_ * ours.components).sum(axis=1))
    assert np.allclose(ours.components, reference.components_ * signs[:, None], atol=1e-8)
    assert np.allclose(ours.explained_variance_ratio, reference.explained_variance_ratio_)
    assert np.allclose(np.abs(ours.transform(X)), np.abs(reference.transform(X)), atol=1e-8)


def test_fit_pca_axes_are_orthonormal_and_sorted() -> None:
    X = np.random.default_rng(3).normal(size=(100, 4)) * [5.0, 3.0, 1.0, 0.1]
    pca = fit_pca(X, 4)
    assert np.allclose(pca.components @ pca.components.T, np.eye(4), atol=1e-10)
    assert list(pca.explained_variance) == sorted(pca.explained_variance, reverse=True)


def test_fit_pca_fixes_the_sign_of_each_axis() -> None:
    X = np.random.default_rng(4).normal(size=(50, 3)) * [4.0, 2.0, 1.0]
    first, flipped = fit_pca(X, 3), fit_pca(-X, 3)
    assert np.allclose(first.components, flipped.components)
    assert (first.components[np.arange(3), np.abs(first.components).argmax(axis=1)] > 0).all()


def test_cumulative_variance_ratio_on_training_data_matches_the_eigenvalues() -> None:
    X = np.random.default_rng(5).normal(size=(300, 4)) * [3.0, 2.0, 1.0, 0.5]
    pca = fit_pca(X, 4)
    assert np.allclose(pca.cumulative_variance_ratio(X), np.cumsum(pca.explained_variance_ratio))
    assert pca.cumulative_variance_ratio(X)[-1] == pytest.approx(1.0)
