using XenIac.Core;

namespace XenIac.Store;

public enum StoreError
{
    /// <summary>The location cannot be reached or used (folder missing, bucket refused, credentials).</summary>
    Unavailable,
    /// <summary>No snapshot has that id or tag.</summary>
    NotFound,
    /// <summary>Stored bytes do not hash to their name, or a snapshot needs a chunk that is missing.</summary>
    Damaged,
    /// <summary>Another process holds a lock that conflicts (gc against push).</summary>
    Busy,
    /// <summary>The encryption key is missing, wrong or malformed.</summary>
    Key,
    /// <summary>A location string, tag or reference the store cannot use.</summary>
    InvalidArgument,
}

/// <summary>A store refused or failed an operation; the message names the object and what to do.</summary>
public sealed class StoreException : XenIacException
{
    public StoreException(StoreError error, string message, Exception? inner = null) : base(message, inner) => Error = error;

    public StoreError Error { get; }
}
