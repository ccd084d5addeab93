namespace XenIac.Core.Config;

/// <summary>
/// Byte offsets of one statement in the source, which the lossless editor splices at. For a list value,
/// <see cref="ItemEnds"/> are the ends of its top-level items and <see cref="TrailingCommaEnd"/> the end of a
/// trailing comma (-1 if none).
/// </summary>
internal sealed record XlSpan(
    int Start,
    int OperatorStart,
    int ValueStart,
    int ValueEnd,
    int End,
    bool EndsWithNewline,
    IReadOnlyList<int> ItemStarts,
    IReadOnlyList<int> ItemEnds,
    int TrailingCommaEnd);
