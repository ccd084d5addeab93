using XenIac.Core;

namespace XenIac.Hosts;

public enum XenHostError
{
    /// <summary>The host cannot be opened here (not a dom0, library missing, folder unusable).</summary>
    Unavailable,
    DomainNotFound,
    DomainExists,
    /// <summary>The domain is not in a state that allows the operation.</summary>
    InvalidState,
    /// <summary>Another process holds the host's lock.</summary>
    Busy,
    OperationFailed,
    InvalidConfig,
}

/// <summary>A host refused or failed an operation; the message says what to do.</summary>
public sealed class XenHostException : XenIacException
{
    public XenHostException(XenHostError error, string message, Exception? inner = null) : base(message, inner) => Error = error;

    public XenHostError Error { get; }
}
