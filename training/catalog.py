"""The catalog: every model Practica trains and serves, one line each.

A new model is a module in this package plus one line here; the service, the CLI and
the contract tests pick it up from this tuple.
"""

from training.gd_quadratic import GdQuadratic
from training.house_prices import HousePrices
from training.iris_pca import IrisPca
from training.netflix_eda import NetflixEda
from training.spec import AnySpec
from training.titanic_chi2 import TitanicChi2
from training.titanic_survival import TitanicSurvival

CATALOG: tuple[AnySpec, ...] = (
    IrisPca(),
    GdQuadratic(),
    TitanicChi2(),
    NetflixEda(),
    HousePrices(),
    TitanicSurvival(),
)


def get_spec(name: str, catalog: tuple[AnySpec, ...] = CATALOG) -> AnySpec:
    for spec in catalog:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in catalog)
    raise KeyError(f"no model named {name!r} in the catalog; known models: {known}")
