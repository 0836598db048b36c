"""Multi30k loader and the text helpers: the real files, missing data, tokeniser, vocabulary,
batches and BLEU."""
import gzip

import pytest
import torch

from dlcourse import text
from dlcourse.data import DataNotFound, load_multi30k, multi30k


def test_real_files_have_the_published_sizes(needs_multi30k):
    for split, size in multi30k.MULTI30K_SIZES.items():
        pairs = load_multi30k(split)
        assert len(pairs) == size and len(pairs.src) == len(pairs.tgt) == size
        assert all(s and t for s, t in zip(pairs.src, pairs.tgt)), f"{split}: empty line"
    train = load_multi30k("train", limit=2)
    assert train.src[0] == "Two young, White males are outside near many bushes."
    assert train.tgt[0] == "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."
    reverse = load_multi30k("val", src_lang="de", tgt_lang="en", limit=3)
    assert reverse.tgt == load_multi30k("val", limit=3).src


def test_uncompressed_files_and_mismatched_lengths(tmp_path, monkeypatch):
    folder = tmp_path / "multi30k"
    folder.mkdir()
    (folder / "val.en").write_text("A dog runs.\nTwo cats.\n", encoding="utf-8")
    with gzip.open(folder / "val.de.gz", "wt", encoding="utf-8") as fh:
        fh.write("Ein Hund rennt.\nZwei Katzen.\n")
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    pairs = load_multi30k("val")
    assert pairs.src == ["A dog runs.", "Two cats."] and pairs.tgt == ["Ein Hund rennt.", "Zwei Katzen."]
    (folder / "val.en").write_text("only one line\n", encoding="utf-8")
    with pytest.raises(ValueError, match="줄 수가 다릅니다"):
        load_multi30k("val")


def test_missing_data_says_what_to_put_where(tmp_path, monkeypatch):
    root = tmp_path / "empty"
    root.mkdir()
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(root))
    monkeypatch.setenv("DLCOURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")  # never wait on the network in a test
    with pytest.raises(DataNotFound) as err:
        load_multi30k("test")
    msg = str(err.value)
    assert str(root / "multi30k" / "test_2016_flickr.en.gz") in msg
    assert str(root / "multi30k" / "test_2016_flickr.de.gz") in msg
    assert "github.com/multi30k/dataset" in msg and "DLCOURSE_DATA_ROOT" in msg


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        load_multi30k("dev")
    with pytest.raises(ValueError, match="달라야"):
        load_multi30k("train", src_lang="de", tgt_lang="de")
    with pytest.raises(ValueError, match="limit"):
        load_multi30k("train", limit=0)


@pytest.mark.parametrize("sentence", [
    "Two young, White males are outside near many bushes.",
    "A man in a t-shirt (red) says: \"hello!\"",
    "Ein Boston Terrier läuft über saftig-grünes Gras vor einem weißen Zaun.",
    "The man's dog isn't here; it's 5 o'clock?",
])
def test_tokeniser_round_trip(sentence):
    tokens = text.tokenize(sentence)
    assert text.detokenize(tokens) == sentence
    # punctuation marks are tokens of their own; words keep only inner hyphens and apostrophes
    assert all(len(t) == 1 for t in tokens if not t[0].isalnum())
    assert all(t.replace("-", "").replace("'", "").isalnum() for t in tokens if t[0].isalnum())
    assert text.tokenize(sentence, lower=True) == [t.lower() for t in tokens]


def test_vocab_specials_unknowns_and_decoding():
    sents = [["a", "b", "a"], ["b", "a", "c"]]
    vocab = text.Vocab.build(sents, min_freq=2)
    assert vocab.itos[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    assert vocab.itos[4:] == ["a", "b"]  # c is seen once: below min_freq
    ids = vocab.encode(["a", "c", "b"], sos=True, eos=True)
    assert ids == [text.SOS_ID, 4, text.UNK_ID, 5, text.EOS_ID]
    assert vocab.decode(ids + [4, 4]) == ["a", "<unk>", "b"]  # stops at <eos>
    assert text.Vocab.from_dict(vocab.to_dict()).itos == vocab.itos
    assert len(text.Vocab.build(sents, min_freq=1, max_size=1)) == 5
    with pytest.raises(ValueError, match="min_freq"):
        text.Vocab.build(sents, min_freq=0)


def test_translation_batches_pad_and_shift():
    src = [[5, 6, 2], [7, 2], [8, 9, 10, 2]]
    tgt = [[11, 12], [13], [14, 15, 16]]
    batches = text.TranslationBatches(src, tgt, 2)
    seen = []
    for b in batches:
        assert b.src.shape[0] == b.tgt_in.shape[0] == len(b)
        assert torch.equal(b.tgt_in[:, 0], torch.full((len(b),), text.SOS_ID))
        for row, i in enumerate(b.index.tolist()):
            n = len(src[i])
            assert b.src_lens[row] == n and b.src[row, :n].tolist() == src[i] and (b.src[row, n:] == 0).all()
            assert b.tgt_out[row, : len(tgt[i]) + 1].tolist() == tgt[i] + [text.EOS_ID]
            assert b.tgt_in[row, 1: len(tgt[i]) + 1].tolist() == tgt[i]
            seen.append(i)
    assert sorted(seen) == [0, 1, 2]
    shuffled = text.TranslationBatches(src * 10, tgt * 10, 4, shuffle=True, seed=3)
    first = [b.index.tolist() for b in shuffled]
    second = [b.index.tolist() for b in shuffled]
    assert sorted(sum(first, [])) == list(range(30)) and first != second  # a new order every epoch


def test_bleu_of_a_perfect_hypothesis_is_100_and_of_garbage_near_0():
    refs = ["Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.", "Zwei Hunde spielen im Schnee."]
    perfect = [text.detokenize(text.tokenize(r)) for r in refs]
    assert text.bleu(perfect, refs).score == pytest.approx(100.0)
    assert text.bleu(["Katze"] * 2, refs).score < 5
    assert "tok:13a" in text.bleu(perfect, refs).signature
    with pytest.raises(ValueError, match="수가 다릅니다"):
        text.bleu(perfect[:1], refs)


def test_fit_seq2seq_learns_and_ignores_padding():
    torch.manual_seed(0)

    class NextToken(torch.nn.Module):
        # predicts y_t from y_{t-1} alone: enough to learn a fixed successor table
        def __init__(self, vocab):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, 16)
            self.out = torch.nn.Linear(16, vocab)

        def forward(self, src, src_lens, tgt_in):
            return self.out(self.emb(tgt_in))

    tgt = [[4 + (i + j) % 6 for j in range(2 + i % 4)] for i in range(60)]   # successor: 4→5→…→9→4
    src = [[4, text.EOS_ID]] * 60
    model = NextToken(12)
    batches = text.TranslationBatches(src, tgt, 8, shuffle=True)
    history = text.fit_seq2seq(model, batches, epochs=8, optimizer=torch.optim.Adam(model.parameters(), lr=0.05),
                               eval_batches=text.TranslationBatches(src, tgt, 16))
    assert len(history.epochs) == 8 and len(history.steps["loss"]) == 8 * len(batches)
    assert history.epochs[-1].train_loss < 0.5 * history.epochs[0].train_loss
    loss, acc = text.evaluate_seq2seq(model, text.TranslationBatches(src, tgt, 16))
    assert acc > 50.0 and loss == pytest.approx(history.epochs[-1].test_loss)
    logits = torch.zeros(1, 3, 12)
    targets = torch.tensor([[5, text.PAD_ID, text.PAD_ID]])
    total, n, right = text.masked_token_stats(logits, targets)
    assert n == 1 and right == 0 and float(total) == pytest.approx(torch.log(torch.tensor(12.0)).item(), rel=1e-5)


def test_online_fallback_downloads_the_canonical_files_into_the_cache(tmp_path, monkeypatch):
    root, cache = tmp_path / "empty", tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(root))
    monkeypatch.setenv("DLCOURSE_CACHE_DIR", str(cache))
    monkeypatch.setattr(multi30k, "online", lambda host: host == "raw.githubusercontent.com")
    fetched = []

    def fake_urlretrieve(url, dest):  # stands in for the network: a valid gzip file per language
        fetched.append(url)
        with gzip.open(dest, "wt", encoding="utf-8") as fh:
            fh.write("A dog.\n" if url.endswith(".en.gz") else "Ein Hund.\n")

    monkeypatch.setattr(multi30k.urllib.request, "urlretrieve", fake_urlretrieve)
    pairs = load_multi30k("val")
    assert pairs.src == ["A dog."] and pairs.tgt == ["Ein Hund."]
    assert fetched == [multi30k.CANONICAL_URL.format(name=n) for n in ("val.en", "val.de")]
    assert "github" in fetched[0] and fetched[0].endswith("data/task1/raw/val.en.gz")
    assert (cache / "multi30k" / "val.de.gz").exists()
    load_multi30k("val")                      # second time: from the cache, no download
    assert len(fetched) == 2
