"""Import names whose distribution is named otherwise, and the hint a missing module's error gets.

Loaded by imports.py only when an import of the code's own failed (never at start-up). The map holds common
packages whose import name differs from their distribution's name after PEP 503 normalization (`import sklearn`
comes from scikit-learn); any other name is its own distribution (`import httpx`, `import runbox_demo`).
Fixed data: the name sent to runbox.install is either one of these values or the import name itself, which the
daemon validates and checks against its allow and deny lists like any install_package request.
"""

DISTRIBUTIONS = {
    "Bio": "biopython",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "MySQLdb": "mysqlclient",
    "OpenGL": "PyOpenGL",
    "OpenSSL": "pyopenssl",
    "PIL": "pillow",
    "Xlib": "python-xlib",
    "absl": "absl-py",
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "cairo": "pycairo",
    "cassandra": "cassandra-driver",
    "cv2": "opencv-python-headless",
    "dateutil": "python-dateutil",
    "dns": "dnspython",
    "docx": "python-docx",
    "dotenv": "python-dotenv",
    "faiss": "faiss-cpu",
    "fitz": "pymupdf",
    "frontmatter": "python-frontmatter",
    "gi": "PyGObject",
    "git": "gitpython",
    "github": "pygithub",
    "googleapiclient": "google-api-python-client",
    "grpc": "grpcio",
    "jose": "python-jose",
    "jwt": "pyjwt",
    "kafka": "kafka-python",
    "magic": "python-magic",
    "markdown_it": "markdown-it-py",
    "mpl_toolkits": "matplotlib",
    "multipart": "python-multipart",
    "nacl": "pynacl",
    "osgeo": "gdal",
    "paho": "paho-mqtt",
    "pdfminer": "pdfminer.six",
    "pkg_resources": "setuptools",
    "pptx": "python-pptx",
    "psycopg2": "psycopg2-binary",
    "pylab": "matplotlib",
    "rest_framework": "djangorestframework",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "socketio": "python-socketio",
    "socks": "pysocks",
    "speech_recognition": "SpeechRecognition",
    "talib": "TA-Lib",
    "telegram": "python-telegram-bot",
    "umap": "umap-learn",
    "usb": "pyusb",
    "websocket": "websocket-client",
    "win32api": "pywin32",
    "yaml": "pyyaml",
    "zmq": "pyzmq",
}


# The distribution that provides a top-level import name, or None when the name cannot be one (non-ASCII, or
# ending in _, which no package name does: nothing is sent that the daemon would refuse as a name anyway).
def distribution_for(name):
    mapped = DISTRIBUTIONS.get(name)
    if mapped is not None:
        return mapped
    if not name or not name.isascii() or not name[0].isalnum() or not name[-1].isalnum():
        return None
    return name


# The message of a missing module's ModuleNotFoundError: how to install it, or why it cannot be installed here.
# installs is the `run` message's field: None when the daemon installs nothing, else its allow and deny lists.
def hint(name, distribution, installs):
    missing = f"No module named {name!r}"
    origin = f"; the import name {name} comes from the distribution {distribution}" if distribution != name else ""
    if installs is None:
        return f"{missing} (this daemon does not install packages)"
    refusal = policy_refusal(distribution, installs)
    if refusal is not None:
        return f"{missing} ({refusal}, so it cannot be installed here{origin})"
    return f'{missing} (install it with install_package("{distribution}"){origin})'


# Why the daemon's policy would refuse the distribution (its deny list, or an allow list without it), or None.
def policy_refusal(distribution, installs):
    wanted = _normalize(distribution)
    names = lambda key: [_normalize(n) for n in installs.get(key) or () if isinstance(n, str)]  # noqa: E731
    if wanted in names("deny"):
        return f"the package {distribution} is on the deny list of this daemon"
    allow = names("allow")
    if allow and wanted not in allow:
        return f"the package {distribution} is not on the allow list of this daemon"
    return None


# PEP 503: lowercase, each run of -_. one -, as the daemon compares names (without importing re).
def _normalize(name):
    out = []
    for char in name.strip().lower():
        if char in "-_.":
            if not out or out[-1] != "-":
                out.append("-")
        else:
            out.append(char)
    return "".join(out)
