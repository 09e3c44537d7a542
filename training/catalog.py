"""The catalog: every model Practica trains and serves, one line each, in roadmap order.

A new model is a module in this package plus one line here; the service, the CLI and
the contract tests pick it up from this tuple.
"""

from training.airbnb_price import AirbnbPrice
from training.gd_quadratic import GdQuadratic
from training.house_prices import HousePrices
from training.iris_pca import IrisPca
from training.loan_default import LoanDefault
from training.mall_segments import MallSegments
from training.mnist_knn import MnistKnn
from training.mnist_pca import MnistPca
from training.netflix_eda import NetflixEda
from training.review_sentiment import ReviewSentiment
from training.spam_svm import SpamSvm
from training.spec import AnySpec
from training.titanic_chi2 import TitanicChi2
from training.titanic_survival import TitanicSurvival

CATALOG: tuple[AnySpec, ...] = (
    IrisPca(),  # 1
    GdQuadratic(),  # 2
    TitanicChi2(),  # 3
    NetflixEda(),  # 4
    HousePrices(),  # 5
    MnistKnn(),  # 6
    SpamSvm(),  # 7
    TitanicSurvival(),  # 8, then 13
    MallSegments(),  # 9
    MnistPca(),  # 10
    LoanDefault(),  # 11
    ReviewSentiment(),  # 12
    AirbnbPrice(),  # 14
)


def get_spec(name: str, catalog: tuple[AnySpec, ...] = CATALOG) -> AnySpec:
    for spec in catalog:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in catalog)
    raise KeyError(f"no model named {name!r} in the catalog; known models: {known}")
