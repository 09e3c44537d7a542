"""The catalog: every model Practica trains and serves, one line each, in roadmap order.

A new model is a module in this package plus one line here; the service, the CLI and
the contract tests pick it up from this tuple.
"""

from training.models.airbnb_price import AirbnbPrice
from training.models.cat_dog import CatDog
from training.models.cifar10_cnn import Cifar10Cnn
from training.models.gd_quadratic import GdQuadratic
from training.models.house_prices import HousePrices
from training.models.imdb_lstm import ImdbLstm
from training.models.iris_pca import IrisPca
from training.models.loan_default import LoanDefault
from training.models.mall_segments import MallSegments
from training.models.mnist_knn import MnistKnn
from training.models.mnist_mlp import MnistMlp
from training.models.mnist_pca import MnistPca
from training.models.movie_recommender import MovieRecommender
from training.models.netflix_eda import NetflixEda
from training.models.news_topic import NewsTopic
from training.models.review_sentiment import ReviewSentiment
from training.models.spam_svm import SpamSvm
from training.models.titanic_chi2 import TitanicChi2
from training.models.titanic_survival import TitanicSurvival
from training.models.xor_net import XorNet
from training.spec import AnySpec

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
    MnistMlp(),  # 15
    XorNet(),  # 16
    Cifar10Cnn(),  # 17
    CatDog(),  # 18
    ImdbLstm(),  # 19
    NewsTopic(),  # 20
    MovieRecommender(),  # 21
)


def get_spec(name: str, catalog: tuple[AnySpec, ...] = CATALOG) -> AnySpec:
    for spec in catalog:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in catalog)
    raise KeyError(f"no model named {name!r} in the catalog; known models: {known}")
