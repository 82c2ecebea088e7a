"""Signing against known vectors (computed independently with `openssl dgst -sha256 -hmac`)."""
import pytest

from alerts import sign


def test_dingtalk_vector():
    # printf '1700000000000\nSEC0123456789abcdef' | openssl dgst -sha256 -hmac 'SEC0123456789abcdef' -binary | base64
    assert sign.dingtalk_sign("SEC0123456789abcdef", 1700000000000) == "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="


def test_dingtalk_url_encodes_the_sign_and_keeps_the_token():
    url = sign.dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=abc", "SEC0123456789abcdef",
                            1700000000000)
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000"
                   "&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D")


def test_feishu_vector():
    # printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nfeishu-secret-42')" -binary | base64
    assert sign.feishu_sign("feishu-secret-42", 1700000000) == "INMLa6ItJbhwdRZRoTvT3OZMtlY5WjmWq4F2Jscs314="
    assert sign.feishu_fields("feishu-secret-42", 1700000000) == {
        "timestamp": "1700000000", "sign": "INMLa6ItJbhwdRZRoTvT3OZMtlY5WjmWq4F2Jscs314="}


@pytest.mark.parametrize("url", ["https://x/robot/send?access_token=a", "https://x/hook"])
def test_unsigned_robots_are_left_as_they_are(url):
    assert sign.dingtalk_url(url, "", 1) == url and sign.feishu_fields("", 1) == {}
