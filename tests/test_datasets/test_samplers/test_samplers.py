"""segtools' DefaultSampler / InfiniteSampler: mmengine's order, indices keyed by their draw."""

import itertools
import pickle

import pytest
from mmengine.dataset import DefaultSampler as MMEngineDefaultSampler
from mmengine.dataset import InfiniteSampler as MMEngineInfiniteSampler
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS

from segtools.datasets.samplers import DefaultSampler, InfiniteSampler, SampleIndex


def test_sample_index_is_an_int_that_keeps_its_key_through_pickling():
    index = SampleIndex(7, (3, 0, 1, 5))
    assert index == 7 and isinstance(index, int) and [10, 11, 12, 13, 14, 15, 16, 17][index] == 17
    copy = pickle.loads(pickle.dumps(index))
    assert type(copy) is SampleIndex and copy == 7 and copy.key == (3, 0, 1, 5)
    assert pickle.loads(pickle.dumps([index]))[0].key == index.key
    # A negative seed folds into SeedSequence's range instead of failing.
    assert SampleIndex(0, (-1, 0, 0, 0)).key[0] == 2**64 - 1


def test_generator_depends_on_every_part_of_the_key_and_the_extra_seed():
    draws = {
        key: SampleIndex(0, key).generator().random()
        for key in [(0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]
    }
    assert len(set(draws.values())) == len(draws)
    index = SampleIndex(4, (0, 0, 0, 0))
    assert index.generator().random() == draws[(0, 0, 0, 0)]  # the dataset index itself is not part of it
    assert index.generator(5).random() != index.generator().random()
    assert index.generator(5).random() == index.generator(5).random()


@pytest.mark.parametrize('shuffle', [True, False])
def test_default_sampler_keeps_mmengine_order_and_keys_each_draw(shuffle):
    dataset = list(range(11))
    ours, theirs = DefaultSampler(dataset, shuffle=shuffle, seed=3), MMEngineDefaultSampler(dataset, shuffle, 3)
    for epoch in (0, 1):
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        drawn = list(ours)
        assert drawn == list(theirs) and len(drawn) == 11
        assert [index.key for index in drawn] == [(3, 0, epoch, position) for position in range(11)]


def test_infinite_sampler_positions_count_over_every_pass():
    dataset = list(range(5))
    ours, theirs = InfiniteSampler(dataset, seed=2), MMEngineInfiniteSampler(dataset, seed=2)
    drawn = list(itertools.islice(iter(ours), 13))  # two and a half passes over the data
    assert drawn == list(itertools.islice(iter(theirs), 13))
    assert [index.key for index in drawn] == [(2, 0, 0, position) for position in range(13)]


def test_segtools_scope_builds_the_keyed_samplers():
    # Configs say sampler=dict(type='DefaultSampler'|'InfiniteSampler'); the runner builds them
    # through mmengine's root registry in the segtools scope.
    for name, cls in (('DefaultSampler', DefaultSampler), ('InfiniteSampler', InfiniteSampler)):
        sampler = MMENGINE_DATA_SAMPLERS.build(dict(type=name), default_args=dict(dataset=[0, 1, 2], seed=0))
        assert type(sampler) is cls
