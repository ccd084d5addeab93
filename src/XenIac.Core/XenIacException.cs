namespace XenIac.Core;

/// <summary>
/// Base of every failure XenIac reports about data or the outside world (as opposed to caller misuse, which
/// stays <see cref="ArgumentException"/> / <see cref="InvalidOperationException"/>). Front ends catch this one
/// type to print a one-line error.
/// </summary>
public abstract class XenIacException : Exception
{
    protected XenIacException(string message, Exception? inner = null) : base(message, inner) { }
}
