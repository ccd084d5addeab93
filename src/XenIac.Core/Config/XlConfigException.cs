namespace XenIac.Core.Config;

/// <summary>
/// An xl.cfg text that Xen's own parser would reject, or a config whose settings xl could not use. The message
/// starts with <c>FILE:LINE:COLUMN:</c> so editors and people can jump to the spot.
/// </summary>
public sealed class XlConfigException : XenIacException
{
    public XlConfigException(string file, int line, int column, string reason)
        : base($"{file}:{line}:{column}: {reason}")
    {
        File = file;
        Line = line;
        Column = column;
        Reason = reason;
    }

    public string File { get; }

    /// <summary>1-based line, counted the way xl counts them (LF only).</summary>
    public int Line { get; }

    /// <summary>1-based column in characters (a tab counts as one).</summary>
    public int Column { get; }

    /// <summary>The message without the location.</summary>
    public string Reason { get; }
}
