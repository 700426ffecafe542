from modalities.voice.clauses import speakable_pieces


def test_long_first_sentence_is_cut_at_clauses_and_nothing_is_lost():
    text = ("You can return most items within 30 days of delivery, as long as they are unused and "
            "in the original packaging, and we refund to the original payment method. Refunds take "
            "5 to 7 business days.")
    pieces = speakable_pieces(text)
    assert len(pieces[0]) <= 60
    assert pieces[-1] == "Refunds take 5 to 7 business days."
    assert " ".join(pieces).split() == text.split()


def test_chinese_sentences_split_on_full_width_punctuation():
    pieces = speakable_pieces("您可以在收货后30天内退货。退款会在5到7个工作日内退回。")
    assert pieces == ["您可以在收货后30天内退货。", "退款会在5到7个工作日内退回。"]


def test_unpunctuated_run_is_cut_at_spaces():
    text = " ".join(["word"] * 80)
    pieces = speakable_pieces(text)
    assert all(len(p) <= 180 for p in pieces) and " ".join(pieces) == text


def test_long_first_sentence_without_commas_is_cut_at_a_breath_word():
    text = "You have 30 days from the delivery date to return an unused item in its original packaging."
    pieces = speakable_pieces(text)
    assert pieces == ["You have 30 days from the delivery date",
                      "to return an unused item in its original packaging."]


def test_later_sentences_are_not_cut_early():
    text = "Yes. You have 30 days from the delivery date to return an unused item in its packaging."
    assert speakable_pieces(text) == ["Yes.", text[5:]]
