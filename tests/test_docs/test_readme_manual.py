"""The README is a manual: short, its Layout true to the package's tree and
its links pointing at files that exist."""
import os
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README = osp.join(ROOT, 'README.md')
MAX_LINES = 260


def _readme() -> str:
    with open(README) as f:
        return f.read()


def layout_block(text: str) -> str:
    start = text.index('## Layout')
    return re.search(r'```\n(.*?)```', text[start:], re.S).group(1)


def package_folders() -> list:
    pkg = osp.join(ROOT, 'mmmrmllm')
    found = []
    for dirpath, dirnames, _ in os.walk(pkg):
        dirnames[:] = [d for d in dirnames if d != '__pycache__']
        found += [osp.relpath(osp.join(dirpath, d), pkg) for d in dirnames]
    return sorted(found)


def missing_folders(layout: str, folders: list) -> list:
    """Folders whose own name (``name/``) the layout block does not show."""
    return [f for f in folders
            if not re.search(r'(^|[\s(,])' + re.escape(osp.basename(f)) +
                             r'/', layout, re.M)]


def test_readme_is_short():
    assert len(_readme().splitlines()) <= MAX_LINES


def test_layout_lists_every_package_folder():
    folders = package_folders()
    assert 'models/fusion' in folders and 'analysis' in folders
    assert missing_folders(layout_block(_readme()), folders) == []


def test_layout_check_sees_a_missing_folder():
    layout = 'mmmrmllm/\n  models/   fusion/ (the fusion)\n'
    assert missing_folders(layout, ['models', 'models/fusion',
                                    'models/llm']) == ['models/llm']


def test_readme_links_exist():
    links = re.findall(r'\]\(((?!https?:)[^)#]+)\)', _readme())
    assert links
    for link in links:
        assert osp.exists(osp.join(ROOT, link)), link
