"""Principal component analysis from scratch: eigendecomposition of the covariance matrix."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pca:
    """A fitted PCA: project with `(x - mean) @ components.T`."""

    mean: np.ndarray  # (n_features,)
    components: np.ndarray  # (n_components, n_features), unit rows, by decreasing variance
    explained_variance: np.ndarray  # (n_components,)
    explained_variance_ratio: np.ndarray  # (n_components,)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray((X - self.mean) @ self.components.T)

    def cumulative_variance_ratio(self, X: np.ndarray) -> np.ndarray:
        """Share of `X`'s variance (around the training mean) kept by the first m axes, per m.

        On held-out data this is the honest explained variance: the axes were not fitted to it.
        """
        kept = (self.transform(X) ** 2).sum(axis=0)
        return np.asarray(np.cumsum(kept) / ((X - self.mean) ** 2).sum())


def fit_pca(X: np.ndarray, n_components: int) -> Pca:
    """PCA of `X` (n_samples, n_features) from the eigenvectors of its covariance matrix."""
    mean = X.mean(axis=0)
    centred = X - mean
    covariance = centred.T @ centred / (len(X) - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending, symmetric solver
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    components = eigenvectors[:, :n_components].T
    # Fix each axis's sign (largest loading positive) so retraining gives the same axes.
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    return Pca(
        mean=mean,
        components=components,
        explained_variance=eigenvalues[:n_components],
        explained_variance_ratio=eigenvalues[:n_components] / eigenvalues.sum(),
    )
