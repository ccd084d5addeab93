namespace XenIac.Core.Streams;

/// <summary>Which of the two nested streams a record belongs to.</summary>
public enum ImageLayer
{
    /// <summary>The outer libxl migration stream v2 ("LibxlFmt").</summary>
    Libxl,
    /// <summary>The libxc stream carried after a LIBXC_CONTEXT record ("XENF").</summary>
    Libxc,
}
