namespace XenIac.Core.Config;

/// <summary>
/// The limits of Xen's xl.cfg reader (libxlutil, Xen 4.17), which XenIac enforces identically so that a config
/// it accepts is one xl accepts. They come from how that reader is built, not from any documentation.
/// </summary>
public static class XlLimits
{
    /// <summary>
    /// Xen's grammar is a bison parser with bison's default stack limit (YYMAXDEPTH 10000 states); a config
    /// whose parse needs more fails with "memory exhausted". Each list level costs 2 states when it is the
    /// first item of its list and 5 when it is a later one, so <c>x = [[[...]]]</c> nests at most 4996 deep.
    /// Measured against libxlutil 4.17 by the differential tests.
    /// </summary>
    public const int MaxParserStates = 10000;

    /// <summary>The deepest <c>x = [[...]]</c> (each list the first item of the one around it) xl reads.</summary>
    public const int MaxFirstItemNesting = 4996;

    /// <summary>
    /// Items one list literal may hold: libxlutil grows a list's array fourfold from 1 and refuses (ERANGE) to
    /// grow it past 4^13 entries (its guard is <c>avalues &gt; INT_MAX / 100</c>).
    /// </summary>
    public const int MaxListItems = 67_108_864;
}
