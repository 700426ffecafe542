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


def test_a_chinese_reply_opens_with_a_short_piece_at_its_first_comma():
    text = "自签收之日起30天内，未使用且保留原包装的商品可以申请退货。"
    assert speakable_pieces(text) == [text]  # later clauses of a reply: whole
    pieces = speakable_pieces(text, short_start=True)
    assert pieces == ["自签收之日起30天内，", "未使用且保留原包装的商品可以申请退货。"]


def test_a_chinese_opening_without_an_early_comma_is_cut_between_words_not_inside_numbers():
    text = "仓库收到退货后2个工作日内完成检验，之后退款在5到7个工作日内原路退回。"
    pieces = speakable_pieces(text, short_start=True)
    assert pieces[0] == "仓库收到退货后" and "".join(pieces).startswith("仓库收到退货后2个工作日内")
    pieces = speakable_pieces("客服每天8:00至22:00通过电话和在线客服提供服务。", short_start=True)
    assert all(len(p) <= 12 for p in pieces[:1]) and "22:00" in "".join(pieces[1:])
    assert "".join(pieces) == "客服每天8:00至22:00通过电话和在线客服提供服务。"


def test_a_short_chinese_sentence_and_english_are_left_alone():
    assert speakable_pieces("您好，请问有什么可以帮您？", short_start=True) == ["您好，请问有什么可以帮您？"]
    text = "You have 30 days to return it."
    assert speakable_pieces(text, short_start=True) == [text]
