"""Local AWS stand-in for albsync's end-to-end tests and demo: moto server (S3, ELBv2, EC2, CloudWatch, Step
Functions with real execution), our own Lambda emulator running real processes, and the test DNS server.

    import sys; sys.path.insert(0, "<repo>/testing")
    from standin import Standin, Zone
"""

from .lambda_emulator import InvokeResult, LambdaEmulator, parse_function_name  # noqa: F401
from .stack import Network, Standin, StandinError, Zone, fast_retries, function_arn, substitute  # noqa: F401
