"""trainchain: continuous training for unmodified ML code.

Kept import-light on purpose: the in-container agent (``trainchain.agent``) is shipped as this
package with only the standard library available, so nothing may be imported here.
"""

__version__ = "0.1.0"
